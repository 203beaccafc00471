package analyze

// mechanismOrder is the order of Summary.Stats.
var mechanismOrder = []Mechanism{MechFork, MechVfork, MechCloneVM}
