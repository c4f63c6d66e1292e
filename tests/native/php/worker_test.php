<?php
// Native tests of the PHP worker (images/php/worker.php): a real worker process on a socket
// pair, driven with the frames of WORKER_PROTOCOL.md, as the runtime's server does. A plain
// PHP script (no test framework in Debian's php-cli); it ends with "N passed, N failed".

declare(strict_types=1);

const WORKER = __DIR__ . '/../../../images/php/worker.php';
const FUNCTION_SOURCE = <<<'PHP'
<?php
$greeting = 'hello from a global';

function helper(string $text): string
{
    return strtoupper($text);
}

function handler($event, $context)
{
    global $greeting;
    $data = $event['data'];
    if ($data === 'raise') {
        throw new InvalidArgumentException('asked to raise');
    }
    if ($data === 'helper') {
        return helper('loud');
    }
    if ($data === 'global') {
        return $greeting;
    }
    if ($data === 'null') {
        return null;
    }
    if ($data === 'request') {
        $request = $event['extensions']['request'];
        return ['method' => $request->getMethod(), 'path' => $request->getUri()->getPath(),
            'query' => $request->getQueryParams(), 'header' => $request->getHeaderLine('X-One'),
            'body' => $request->getBody()->getContents()];
    }
    if ($data instanceof stdClass) {
        return ['data' => $data, 'event_id' => $event['event-id'], 'type' => $event['event-type'],
            'context' => $context];
    }
    return $data;
}
PHP;

$failures = [];
$passed = 0;
$workers = [];

function write_frame($sock, array $header, string $body = ''): void
{
    $head = json_encode($header, JSON_UNESCAPED_SLASHES);
    fwrite($sock, pack('NN', strlen($head), strlen($body)) . $head . $body);
}

function read_exactly($sock, int $size): string
{
    $data = '';
    while (strlen($data) < $size) {
        $chunk = fread($sock, $size - strlen($data));
        if ($chunk === false || $chunk === '') {
            throw new RuntimeException('the worker closed the socket');
        }
        $data .= $chunk;
    }
    return $data;
}

function read_frame($sock): array
{
    ['h' => $head, 'b' => $size] = unpack('Nh/Nb', read_exactly($sock, 8));
    return [json_decode(read_exactly($sock, $head), true), $size ? read_exactly($sock, $size) : ''];
}

/** @return array{0: resource, 1: array, 2: resource} socket, first frame, process */
function start(string $source = FUNCTION_SOURCE, string $handler = 'handler', string $file = 'fn',
               ?string $load = null): array
{
    global $workers;
    $dir = sys_get_temp_dir() . '/kubeless-php-test-' . bin2hex(random_bytes(4));
    mkdir($dir);
    file_put_contents("$dir/$file.php", $source);
    [$ours, $theirs] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
    $process = proc_open([PHP_BINARY, WORKER], [0 => ['file', '/dev/null', 'r'], 1 => ['file', '/dev/null', 'w'],
        3 => $theirs], $pipes, null, getenv() + ['KUBELESS_WORKER_FD' => '3']);
    fclose($theirs);
    $workers[] = [$process, $ours];
    $context = ['function-name' => 'fn', 'timeout' => '3', 'runtime' => 'php8.4', 'memory-limit' => '128Mi'];
    write_frame($ours, ['type' => 'load', 'function_dir' => $dir, 'module' => $load ?? $file,
        'handler' => $handler, 'context' => $context, 'body_limit' => 1048576]);
    return [$ours, read_frame($ours)[0], $process];
}

function call($sock, string $body = '', array $headers = [], string $query = '', array $event = []): array
{
    write_frame($sock, ['type' => 'call', 'method' => 'POST', 'path' => '/some/path', 'query' => $query,
        'version' => '1.1', 'scheme' => 'http', 'headers' => $headers, 'remote_addr' => '127.0.0.1',
        'remote_port' => 1, 'server_name' => 'localhost', 'server_port' => 8080,
        'event' => $event + ['event-id' => null, 'event-type' => null]], $body);
    return read_frame($sock);
}

function check(bool $ok, string $what): void
{
    if (!$ok) {
        throw new RuntimeException("expected $what");
    }
}

$tests = [
    'ready then a string reply' => function () {
        [$sock, $ready, $process] = start();
        check($ready['type'] === 'ready' && $ready['pid'] === proc_get_status($process)['pid'], 'ready with the pid');
        [$header, $body] = call($sock, 'hello', [['content-type', 'text/plain']]);
        check($header['type'] === 'reply' && $header['status'] === 200 && $body === 'hello', 'the string back');
    },
    'JSON data, event fields, context' => function () {
        [$sock] = start();
        [$header, $body] = call($sock, '{"a": [1, "b"], "empty": {}}', [['content-type', 'application/json; charset=utf-8']],
            '', ['event-id' => 'id-7', 'event-type' => 't']);
        check($header['headers'] === [['Content-Type', 'application/json']], 'a JSON content type');
        check($body === '{"data":{"a":[1,"b"],"empty":{}},"event_id":"id-7","type":"t","context":'
            . '{"function-name":"fn","timeout":"3","runtime":"php8.4","memory-limit":"128Mi"}}', "the event, got $body");
    },
    'the request in extensions' => function () {
        [$sock] = start();
        [, $body] = call($sock, 'request', [['x-one', '1'], ['content-type', 'text/plain']], 'x=1&y=two');
        check(json_decode($body, true) === ['method' => 'POST', 'path' => '/some/path',
            'query' => ['x' => '1', 'y' => 'two'], 'header' => '1', 'body' => 'request'], "the request, got $body");
    },
    'binary body byte for byte' => function () {
        [$sock] = start();
        $bytes = implode('', array_map('chr', range(0, 255)));
        [$header, $body] = call($sock, $bytes, [['content-type', 'application/octet-stream']]);
        check($header['type'] === 'reply' && $body === $bytes, 'the same 256 bytes');
    },
    'other functions, globals and null' => function () {
        [$sock] = start();
        check(call($sock, 'helper')[1] === 'LOUD', 'the helper');
        check(call($sock, 'global')[1] === 'hello from a global', 'the global of the file');
        check(call($sock, 'null')[1] === '', 'an empty body');
    },
    'an exception is an error frame and the worker lives' => function () {
        [$sock] = start();
        [$header] = call($sock, 'raise');
        check($header['type'] === 'error' && $header['message'] === 'InvalidArgumentException: asked to raise', 'the error');
        check(str_contains($header['traceback'], 'fn.php:'), 'the file in the traceback');
        check(call($sock, 'still here')[1] === 'still here', 'the next call to work');
    },
    'malformed JSON is a bad request' => function () {
        [$sock] = start();
        [$header] = call($sock, '{"a": ', [['content-type', 'application/json']]);
        check($header['type'] === 'bad-request' && str_contains($header['message'], 'Malformed JSON body'), 'bad-request');
    },
    'a parse error names the file and line' => function () {
        [, $ready] = start("<?php\nfunction handler(\$event, \$context) {\n  return [1, 2;\n}\n");
        check($ready['type'] === 'load-error' && preg_match('/fn\.php:3: PHP Parse error/', $ready['message']) === 1,
            "file:line, got {$ready['message']}");
    },
    'an error while loading names the line' => function () {
        [, $ready] = start("<?php\n\$x = 1;\nthrow new RuntimeException('broken at load');\n");
        check($ready['type'] === 'load-error' && preg_match('/fn\.php:3: RuntimeException: broken at load/', $ready['message']) === 1,
            "the line, got {$ready['message']}");
    },
    'a missing handler lists what the file defines' => function () {
        [, $ready] = start("<?php\nfunction other(\$event, \$context) {}\n");
        check($ready['type'] === 'load-error' && preg_match('/defines no function "handler".*other/', $ready['message']) === 1,
            "the list, got {$ready['message']}");
    },
    'a missing file lists the folder' => function () {
        [, $ready] = start(FUNCTION_SOURCE, 'handler', 'fn', 'nope');
        check($ready['type'] === 'load-error' && preg_match('/nope\.php does not exist.*fn\.php/', $ready['message']) === 1,
            "the folder, got {$ready['message']}");
    },
    'a stop frame ends the worker' => function () {
        [$sock, , $process] = start();
        write_frame($sock, ['type' => 'stop']);
        $deadline = microtime(true) + 5;
        while (($status = proc_get_status($process))['running'] && microtime(true) < $deadline) {
            usleep(20000);
        }
        check(!$status['running'] && $status['exitcode'] === 0, 'exit 0');
    },
];

foreach ($tests as $name => $test) {
    try {
        $test();
        $passed++;
        echo "ok   $name\n";
    } catch (Throwable $e) {
        $failures[] = $name;
        echo "FAIL $name: {$e->getMessage()}\n";
    }
}
foreach ($workers as [$process, $sock]) {
    fclose($sock);
    proc_terminate($process, 9);
    proc_close($process);
}
printf("%d passed, %d failed\n", $passed, count($failures));
exit($failures ? 1 : 0);
