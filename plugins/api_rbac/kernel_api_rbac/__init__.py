"""(being built: issue 12)"""
