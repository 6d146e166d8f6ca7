package msgstore

func crashChild() bool { return false }
