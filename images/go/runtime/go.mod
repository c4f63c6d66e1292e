module kubeless-runtime

go 1.23

require github.com/kubeless/kubeless v1.0.7

replace github.com/kubeless/kubeless => ../sdk
