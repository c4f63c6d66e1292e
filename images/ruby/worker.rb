# frozen_string_literal: true

# A worker of the Kubeless Ruby runtime. The runtime's server (python3 -m kubeless_runtime)
# starts it from KUBELESS_WORKER_COMMAND and speaks the frames of WORKER_PROTOCOL.md over the
# socket KUBELESS_WORKER_FD: a `load` frame (the function to load, the context), then one
# `call` frame per request, each answered with a `reply`, `error` or `bad-request` frame.
# HTTP, timeouts (the server kills this process group), metrics and logs are the server's.
#
# The function is a Kubeless Ruby function, unchanged: a file defining
# `def handler(event, context)`, loaded into a module of its own as Kubeless did.

require 'json'
require 'stringio'
require 'rack'

module Kubeless
  # The frames, the event and the call; no global state but the loaded function.
  module Worker
    EVENT_FIELDS = %w[event-id event-type event-time event-namespace].freeze
    MAX_JSON_NESTING = 512
    TEXT_HTML = 'text/html; charset=UTF-8'
    JSON_TYPE = 'application/json'
    TEXT_HEADERS = [['Content-Type', TEXT_HTML].freeze].freeze
    JSON_HEADERS = [['Content-Type', JSON_TYPE].freeze].freeze
    # The reply headers of a String or a JSON result, encoded once: the common case per call.
    PRESET_REPLIES = [TEXT_HEADERS, JSON_HEADERS].to_h do |headers|
      [headers, JSON.generate('type' => 'reply', 'status' => 200, 'headers' => headers).freeze]
    end.compare_by_identity.freeze
    STRING_KEYS = proc { |hash, key| key.is_a?(String) ? hash.fetch(key.to_sym, nil) : nil }

    # The function could not be loaded; the message is for a person (file, line, fix).
    class LoadError < StandardError; end

    # The request cannot become an event (answered 400).
    class BadRequest < StandardError; end

    module_function

    def read_frame(io)
      prefix = io.read(8)
      return nil if prefix.nil? || prefix.bytesize < 8

      head, size = prefix.unpack('NN')
      header = JSON.parse(io.read(head).force_encoding(Encoding::UTF_8))
      body = size.zero? ? +'' : io.read(size)
      raise EOFError, 'the server closed the socket in a frame' if body.nil? || body.bytesize < size

      [header, body]
    end

    def write_frame(io, header, body = '')
      head = header.is_a?(String) ? header : JSON.generate(header)
      body = body.b
      io.write([head.bytesize, body.bytesize].pack('NN') + head + body)
    end

    # Keys are symbols, as Kubeless's event and context had them; strings find them too.
    def symbol_hash(pairs = {})
      hash = Hash.new(&STRING_KEYS)
      pairs.each { |key, value| hash[key.to_sym] = value }
      hash
    end

    def use_bundle(dir)
      gemfile = File.join(dir, 'Gemfile')
      return unless File.file?(gemfile)

      ENV['BUNDLE_GEMFILE'] ||= gemfile
      ENV['GEM_HOME'] ||= File.join(dir, 'gems')
      Gem.clear_paths
      require 'bundler/setup'
    rescue ::LoadError, StandardError => e
      raise LoadError, "The gems of #{gemfile} cannot be loaded: #{e.class}: #{e.message}. " \
                       'Deploy the function with --dependencies Gemfile so that the ' \
                       'installation phase installs them, or remove the Gemfile.'
    end

    def line_in(error, path)
      place = (error.backtrace_locations || []).find { |loc| loc.absolute_path == path || loc.path == path }
      place ||= (error.backtrace || []).map { |l| l[/\A#{Regexp.escape(path)}:(\d+)/, 1] }.compact.first
      place.respond_to?(:lineno) ? place.lineno : place
    end

    # The handler as a Method of a fresh module holding the file, as Kubeless loaded it.
    def load_function(dir, mod_name, handler)
      path = File.join(dir, "#{mod_name}.rb")
      unless File.file?(path)
        raise LoadError, "#{path} does not exist: MOD_NAME=#{mod_name.inspect} names no file in " \
                         "#{dir} (it holds: #{Dir.children(dir).sort.first(20).join(', ')}). " \
                         'Deploy with --handler FILE.METHOD where FILE.rb is the function file.'
      end
      use_bundle(dir)
      mod = Module.new
      begin
        mod.module_eval(File.read(path), path, 1)
      rescue SyntaxError => e
        raise LoadError, "#{path} has a syntax error: #{e.message.strip}. Fix the line it names " \
                         "(check it with `ruby -c #{File.basename(path)}`)."
      rescue ScriptError, StandardError => e
        line = line_in(e, path)
        raise LoadError, "Loading #{path} failed#{line ? " at line #{line}" : ''}: " \
                         "#{e.class}: #{e.message}. Fix the code that runs when the file " \
                         'is loaded (outside the handler), or install the gem it needs.'
      end
      unless mod.method_defined?(handler) || mod.private_method_defined?(handler)
        defined = mod.instance_methods(false) + mod.private_instance_methods(false)
        raise LoadError, "#{path} defines no method #{handler.inspect} (FUNC_HANDLER); it " \
                         "defines: #{defined.sort.join(', ').then { |s| s.empty? ? 'none' : s }}. " \
                         "Deploy with --handler #{mod_name}.METHOD, or add def #{handler}(event, context)."
      end
      mod.extend(mod) # handler and the file's other methods callable as the module's own
      mod.method(handler)
    end

    def rack_env(header, body)
      env = {
        'REQUEST_METHOD' => header['method'], 'SCRIPT_NAME' => '',
        'PATH_INFO' => header['path'], 'QUERY_STRING' => header['query'].to_s,
        'SERVER_NAME' => header['server_name'].to_s, 'SERVER_PORT' => header['server_port'].to_s,
        'SERVER_PROTOCOL' => "HTTP/#{header['version']}", 'REMOTE_ADDR' => header['remote_addr'].to_s,
        'rack.url_scheme' => header['scheme'] || 'http', 'rack.input' => StringIO.new(body),
        'rack.errors' => $stderr, 'CONTENT_LENGTH' => body.bytesize.to_s
      }
      (header['headers'] || []).each do |name, value|
        key = name.downcase == 'content-type' ? 'CONTENT_TYPE' : "HTTP_#{name.upcase.tr('-', '_')}"
        next if key == 'HTTP_CONTENT_LENGTH'

        env[key] = env.key?(key) ? "#{env[key]},#{value}" : value
      end
      env
    end

    def json?(content_type)
      content_type.to_s.split(';', 2).first.to_s.strip.casecmp?(JSON_TYPE)
    end

    def parse_data(content_type, body)
      if json?(content_type)
        return nil if body.strip.empty?

        begin
          return JSON.parse(body.dup.force_encoding(Encoding::UTF_8), max_nesting: MAX_JSON_NESTING)
        rescue JSON::NestingError
          raise BadRequest, "The JSON body nests arrays or objects more than #{MAX_JSON_NESTING} " \
                            'levels deep, which this runtime refuses; flatten the data.'
        rescue JSON::ParserError => e
          raise BadRequest, "Malformed JSON body (#{e.message.lines.first.strip}); the request " \
                            "says Content-Type: #{content_type}, so the body must be valid JSON."
        end
      end
      text = body.dup.force_encoding(Encoding::UTF_8)
      text.valid_encoding? ? text : body
    end

    def event(header, body)
      env = rack_env(header, body)
      fields = header['event'] || {}
      event = symbol_hash(data: parse_data(env['CONTENT_TYPE'], body))
      EVENT_FIELDS.each { |name| event[name.to_sym] = fields[name] }
      event[:extensions] = symbol_hash(request: Rack::Request.new(env))
      event
    end

    # status, headers, body of what the function returned.
    def reply(result)
      case result
      when Rack::Response
        status, headers, parts = result.finish
        chunks = []
        parts.each { |part| chunks << part.to_s }
        [status, headers.map { |k, v| [k.to_s, v.to_s] }, chunks.join]
      when String then [200, TEXT_HEADERS, result]
      when nil then [200, TEXT_HEADERS, '']
      when Hash, Array, Numeric, true, false then [200, JSON_HEADERS, JSON.generate(result)]
      else
        raise TypeError, "the function returned a #{result.class}, which has no HTTP form; " \
                         'return a String, a Hash, an Array, a number, true/false, nil or a Rack::Response'
      end
    end

    def answer(function, context, header, body)
      ev = begin
        event(header, body)
      rescue BadRequest => e
        return [{ 'type' => 'bad-request', 'message' => e.message }, '']
      end
      status, headers, out = reply(function.call(ev, context))
      preset = status == 200 && PRESET_REPLIES[headers]
      [preset || { 'type' => 'reply', 'status' => status, 'headers' => headers }, out]
    rescue Exception => e # rubocop:disable Lint/RescueException -- a function's exit is its error too
      raise if e.is_a?(SignalException)

      trace = ["#{e.class}: #{e.message}", *(e.backtrace || []).map { |l| "  #{l}" }].join("\n")
      [{ 'type' => 'error', 'message' => "#{e.class}: #{e.message}", 'traceback' => trace }, '']
    end

    def serve(io)
      load, = read_frame(io)
      return 1 unless load && load['type'] == 'load'

      begin
        function = load_function(load['function_dir'], load['module'].to_s, load['handler'].to_s)
      rescue LoadError => e
        write_frame(io, 'type' => 'load-error', 'message' => e.message)
        return 1
      end
      context = symbol_hash(load['context'] || {})
      write_frame(io, 'type' => 'ready', 'pid' => Process.pid)
      while (frame = read_frame(io))
        header, body = frame
        return 0 if header['type'] == 'stop'

        reply_header, out = answer(function, context, header, body)
        begin
          write_frame(io, reply_header, out)
        rescue JSON::GeneratorError, EncodingError => e
          write_frame(io, 'type' => 'error', 'message' => "ReplyError: #{e.message}", 'traceback' => '')
        end
      end
      0
    end

    def main
      fd = ENV.fetch('KUBELESS_WORKER_FD') do
        warn 'worker.rb is started by the runtime server (KUBELESS_WORKER_COMMAND), which sets KUBELESS_WORKER_FD.'
        exit 2
      end
      $stdout.sync = true
      $stderr.sync = true
      Signal.trap('INT', 'IGNORE')
      io = IO.for_fd(Integer(fd), 'r+b', autoclose: true)
      io.sync = true
      exit serve(io)
    rescue Errno::EPIPE, Errno::ECONNRESET, EOFError
      exit 0
    end
  end
end

Kubeless::Worker.main if $PROGRAM_NAME == __FILE__
