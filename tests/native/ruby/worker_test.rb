# frozen_string_literal: true

# Native tests of the Ruby worker (images/ruby/worker.rb): a real worker process on a
# socketpair, driven with the frames of WORKER_PROTOCOL.md, as the runtime's server does.
require 'minitest/autorun'
require 'json'
require 'socket'
require 'tmpdir'

WORKER = ENV.fetch('KUBELESS_RUBY_WORKER') { File.expand_path('../../../images/ruby/worker.rb', __dir__) }

class WorkerTest < Minitest::Test
  FUNCTION = <<~RUBY
    require 'json'

    def helper(text)
      text.upcase
    end

    def handler(event, context)
      data = event[:data]
      case data
      when 'raise' then raise ArgumentError, 'asked to raise'
      when 'helper' then helper('loud')
      when 'nil' then nil
      when 'request'
        request = event[:extensions][:request]
        { method: request.request_method, path: request.path_info, query: request.GET,
          header: request.get_header('HTTP_X_ONE'), type: request.media_type }
      when Hash
        { data: data, event_id: event[:'event-id'], type: event['event-type'],
          context: context, function: context[:'function-name'] }
      else data
      end
    end
  RUBY

  def setup
    @dir = Dir.mktmpdir
    @workers = []
  end

  def teardown
    @workers.each do |pid, sock|
      sock.close unless sock.closed?
      Process.kill('KILL', pid) rescue nil # rubocop:disable Style/RescueModifier
      Process.wait(pid) rescue nil # rubocop:disable Style/RescueModifier
    end
    FileUtils.remove_entry(@dir)
  end

  def write_frame(sock, header, body = '')
    head = JSON.generate(header)
    sock.write([head.bytesize, body.bytesize].pack('NN') + head + body.b)
  end

  def read_frame(sock)
    prefix = sock.read(8)
    return nil if prefix.nil?

    head, size = prefix.unpack('NN')
    [JSON.parse(sock.read(head)), size.zero? ? '' : sock.read(size)]
  end

  def start(source = FUNCTION, handler: 'handler', file: 'fn', load: file)
    File.write(File.join(@dir, "#{file}.rb"), source)
    ours, theirs = UNIXSocket.pair
    pid = spawn({ 'KUBELESS_WORKER_FD' => theirs.fileno.to_s }, 'ruby', WORKER,
                theirs.fileno => theirs.fileno, out: File::NULL)
    theirs.close
    @workers << [pid, ours]
    context = { 'function-name' => 'fn', 'timeout' => '3', 'runtime' => 'ruby3.3', 'memory-limit' => '128Mi' }
    write_frame(ours, { type: 'load', function_dir: @dir, module: load, handler: handler,
                        context: context, body_limit: 1_048_576 })
    [ours, read_frame(ours).first, pid]
  end

  def call(sock, body = '', headers: [], query: '', event: {})
    write_frame(sock, { type: 'call', method: 'POST', path: '/some/path', query: query, version: '1.1',
                        scheme: 'http', headers: headers, remote_addr: '127.0.0.1', remote_port: 1,
                        server_name: 'localhost', server_port: 8080, event: event }, body)
    read_frame(sock)
  end

  def test_ready_then_string_reply
    sock, ready, pid = start
    assert_equal({ 'type' => 'ready', 'pid' => pid }, ready)
    header, body = call(sock, 'hello', headers: [%w[content-type text/plain]])
    assert_equal 'reply', header['type']
    assert_equal 200, header['status']
    assert_equal 'hello', body
  end

  def test_json_event_fields_and_context
    sock, = start
    header, body = call(sock, '{"a": [1, "b"]}', headers: [['content-type', 'application/json; charset=utf-8']],
                                                  event: { 'event-id' => 'id-7', 'event-type' => 't' })
    assert_equal [%w[Content-Type application/json]], header['headers']
    assert_equal({ 'data' => { 'a' => [1, 'b'] }, 'event_id' => 'id-7', 'type' => 't',
                   'context' => { 'function-name' => 'fn', 'timeout' => '3', 'runtime' => 'ruby3.3',
                                  'memory-limit' => '128Mi' }, 'function' => 'fn' }, JSON.parse(body))
  end

  def test_rack_request_in_extensions
    sock, = start
    _, body = call(sock, 'request', query: 'x=1&y=two', headers: [%w[x-one 1], %w[content-type text/plain]])
    assert_equal({ 'method' => 'POST', 'path' => '/some/path', 'query' => { 'x' => '1', 'y' => 'two' },
                   'header' => '1', 'type' => 'text/plain' }, JSON.parse(body))
  end

  def test_binary_body_is_returned_byte_for_byte
    sock, = start
    bytes = (0..255).to_a.pack('C*')
    header, body = call(sock, bytes, headers: [%w[content-type application/octet-stream]])
    assert_equal 'reply', header['type']
    assert_equal bytes, body.b
  end

  def test_other_methods_of_the_file_and_nil
    sock, = start
    assert_equal 'LOUD', call(sock, 'helper')[1]
    assert_equal '', call(sock, 'nil')[1]
  end

  def test_exception_is_an_error_frame_and_the_worker_lives
    sock, = start
    header, = call(sock, 'raise')
    assert_equal 'error', header['type']
    assert_equal 'ArgumentError: asked to raise', header['message']
    assert_match(/fn\.rb:\d+/, header['traceback'])
    assert_equal 'still here', call(sock, 'still here')[1]
  end

  def test_malformed_json_is_a_bad_request
    sock, = start
    header, = call(sock, '{"a": ', headers: [%w[content-type application/json]])
    assert_equal 'bad-request', header['type']
    assert_match(/Malformed JSON body/, header['message'])
  end

  def test_syntax_error_names_the_file_and_line
    _, ready, = start("def handler(event, context)\n  [1, 2\nend\n")
    assert_equal 'load-error', ready['type']
    assert_match(%r{fn\.rb:\d+}, ready['message'])
    assert_match(/syntax error/, ready['message'])
  end

  def test_missing_handler_lists_what_the_file_defines
    _, ready, = start("def other(event, context)\nend\n", handler: 'handler')
    assert_equal 'load-error', ready['type']
    assert_match(/defines no method "handler".*other/, ready['message'])
  end

  def test_error_while_loading_names_the_line
    _, ready, = start("x = 1\nraise 'broken at load'\n")
    assert_equal 'load-error', ready['type']
    assert_match(/line 2: RuntimeError: broken at load/, ready['message'])
  end

  def test_missing_file_lists_the_folder
    _, ready, = start(FUNCTION, file: 'fn', load: 'nope')
    assert_equal 'load-error', ready['type']
    assert_match(/nope\.rb does not exist.*fn\.rb/, ready['message'])
  end

  def test_stop_frame_ends_the_worker
    sock, _, pid = start
    write_frame(sock, { type: 'stop' })
    _, status = Process.wait2(pid)
    assert_equal 0, status.exitstatus
  end
end
