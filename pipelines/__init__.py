"""dlt sources of LLMeter, one subpackage each, and what they share."""
