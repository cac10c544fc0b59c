"""oeseg.figures"""
