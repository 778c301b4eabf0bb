"""Files hubtrain writes and reads back: formats that hold data only, so reading one never runs code."""
