"""The web console for strategists and managers, served by the bot's own aiohttp application."""
