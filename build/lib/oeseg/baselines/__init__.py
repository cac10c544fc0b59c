"""oeseg.baselines"""
