// owned by the formats (decoders) helper: placeholder
