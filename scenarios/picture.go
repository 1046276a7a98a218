package scenarios

// Picture collects what the picture of a run shows (package picture draws it).
type Picture struct{}

// NewPicture returns an empty Picture for Options.Picture.
func NewPicture() *Picture { return &Picture{} }

// WritePicture writes the picture of run r to path.
func WritePicture(path string, p *Picture, r Result, rp Replay) error { return nil }
