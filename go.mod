module github.com/vasim/vasim

go 1.23

require github.com/google/btree v1.1.3
