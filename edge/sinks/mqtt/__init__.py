"""Results over MQTT: the link to the broker, what is sent when, Home Assistant discovery."""
