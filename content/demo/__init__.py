"""A small sample organisation, content and customer voice, so a newcomer sees something at once."""
