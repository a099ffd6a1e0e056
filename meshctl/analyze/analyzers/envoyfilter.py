"""placeholder"""
ANALYZERS: list = []
