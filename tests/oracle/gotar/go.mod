module imgscan.test/gotar

go 1.19
