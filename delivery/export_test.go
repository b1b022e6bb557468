package delivery

// SetHeldAtVerdict lets tests count the body bytes held in memory when a
// signature verdict is reached.
func SetHeldAtVerdict(f func(int64)) { heldAtVerdict = f }
