"""reelforge.ui"""
