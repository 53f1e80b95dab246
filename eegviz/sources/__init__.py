"""Where samples and markers come from. Each source yields Chunk and Marker messages in one clock."""
