"""wiber.broker"""
