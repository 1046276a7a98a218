package main

import (
	"errors"

	"vopr/scenarios"
)

func writePicture(path string, p *scenarios.Picture, r scenarios.Result, rp scenarios.Replay) error {
	return errors.New("not yet")
}
