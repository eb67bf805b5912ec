"""wiber.codec"""
