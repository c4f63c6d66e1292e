Gem::Specification.new do |spec|
  spec.name = 'kubeless_conformance_dep'
  spec.version = '1.0.0'
  spec.summary = 'The one dependency of the Ruby conformance function'
  spec.authors = ['kubeless-runtime']
  spec.license = 'Apache-2.0'
  spec.files = ['lib/kubeless_conformance_dep.rb']
end
