"""oeseg.metrics"""
