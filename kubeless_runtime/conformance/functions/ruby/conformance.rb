# The conformance suite's function for Ruby runtimes (Kubeless style: def handler(event,
# context)); PROTOCOL.md (one folder up) says what each request must answer. Plain Ruby: the
# `deps` command requires the one gem the installation phase installs (from the bundle's
# vendor/cache: conformance.zip holds this file and that gem, see make-bundle.sh).
require 'json'

GREETING = 'kubeless-conformance: hello from the function'
MARKER_DIR = '/tmp'
TOKEN = /\A[0-9a-f]{6,64}\z/.freeze
EVENT_FIELDS = %w[event-id event-type event-time event-namespace].freeze
CONTEXT_FIELDS = %w[function-name timeout runtime memory-limit].freeze

def type_name(value)
  case value
  when Hash then 'object'
  when Array then 'array'
  when String then value.encoding == Encoding::BINARY ? 'bytes' : 'string'
  when true, false then 'boolean'
  when Numeric then 'number'
  when nil then 'null'
  else value.class.name
  end
end

def mark(token, stage)
  puts "kubeless-conformance #{stage} #{token}"
  $stdout.flush
  File.write(File.join(MARKER_DIR, "kubeless-conformance-#{token}.#{stage}"), stage)
rescue SystemCallError
  nil
end

def run_command(data, event, context)
  case data['conformance']
  when 'where'
    { file: File.expand_path(__FILE__), module: 'conformance',
      install_volume: ENV.fetch('KUBELESS_INSTALL_VOLUME', '') }
  when 'event'
    { event: EVENT_FIELDS.to_h { |name| [name, event[name.to_sym]] }, type: type_name(data) }
  when 'context'
    { context: CONTEXT_FIELDS.to_h { |name| [name, context[name.to_sym]] } }
  when 'raise'
    raise 'kubeless-conformance: a deliberate exception (the 500 case)'
  when 'sleep'
    seconds = Float(data.fetch('seconds', 1))
    sleep seconds
    { slept: seconds }
  when 'late'
    token = data['token'].to_s
    raise ArgumentError, 'token must be 6-64 lowercase hex digits' unless TOKEN.match?(token)

    mark(token, 'start')
    sleep Float(data.fetch('seconds', 5))
    mark(token, 'done')
    'kubeless-conformance: finished after the deadline'
  when 'deps'
    require 'kubeless_conformance_dep'
    { name: 'kubeless_conformance_dep', version: KubelessConformanceDep::VERSION,
      file: KubelessConformanceDep::FILE }
  else
    raise ArgumentError, "unknown conformance command #{data['conformance'].inspect}"
  end
end

def handler(event, context)
  data = event[:data]
  return run_command(data, event, context) if data.is_a?(Hash) && data.key?('conformance')
  return GREETING if data.nil? || (data.respond_to?(:empty?) && data.empty?)
  return data if data.is_a?(String)

  { echo: data, type: type_name(data) }
end
