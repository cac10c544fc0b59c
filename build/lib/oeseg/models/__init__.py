"""oeseg.models"""
