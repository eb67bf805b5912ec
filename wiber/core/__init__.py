"""wiber.core"""
