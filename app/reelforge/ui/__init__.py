"""The desktop UI: the only package allowed to import QtWidgets and QtGui.

Widgets talk to the core through commands (app.queue) and bus events only; Qt item models are
thin adapters over core state, coalesced on a timer so big queues stay responsive.
"""
