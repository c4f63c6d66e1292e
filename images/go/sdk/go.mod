// The import path Kubeless Go functions use, written fresh for this runtime: only the
// types a function sees (Event, Extensions, Context), no dependency, so a function with
// no go.mod compiles offline. The compilation phase points the function's module here
// with a replace directive, whatever version of github.com/kubeless/kubeless it requires.
module github.com/kubeless/kubeless

go 1.23
