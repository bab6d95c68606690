"""reelforge.storage"""
