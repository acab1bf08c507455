module protected-paths

go 1.21
