"""reelforge.media"""
