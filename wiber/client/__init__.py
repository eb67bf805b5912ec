"""wiber.client"""
