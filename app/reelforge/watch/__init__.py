"""Work that arrives by itself: watch folders, schedules and periodic housekeeping."""
