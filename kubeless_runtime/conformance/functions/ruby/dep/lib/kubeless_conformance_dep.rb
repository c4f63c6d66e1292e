# The one dependency of the Ruby conformance function: says its version and where it lives.
module KubelessConformanceDep
  VERSION = '1.0.0'
  FILE = File.expand_path(__FILE__)
end
