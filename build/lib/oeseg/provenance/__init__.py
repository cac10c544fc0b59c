"""oeseg.provenance"""
