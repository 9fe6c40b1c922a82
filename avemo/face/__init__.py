"""The face: mesh and crops, the frame models, the video analysis, stills, OpenFace action units."""
