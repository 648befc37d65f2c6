// owned by the connectors helper: placeholder
