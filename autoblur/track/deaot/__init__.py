"""DeAOT: our implementation of the official R50-DeAOT-L tracker and its inference engine."""
