package main

import "vopr/scenarios"

func writePicture(path string, p *scenarios.Picture, r scenarios.Result, rp scenarios.Replay) error {
	return scenarios.WritePicture(path, p, r, rp)
}
