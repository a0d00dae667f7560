"""Model price seeds: generated from the installed genai-prices, with their history kept."""
