<?php
// A worker of the Kubeless PHP runtime, run by the PHP CLI (no Apache, no php-fpm). The
// runtime's server (python3 -m kubeless_runtime) starts it from KUBELESS_WORKER_COMMAND and
// speaks the frames of WORKER_PROTOCOL.md over the socket KUBELESS_WORKER_FD: a `load` frame,
// then one `call` frame per request, each answered with `reply`, `error` or `bad-request`.
// HTTP, timeouts (the server kills this process group), metrics and logs are the server's.
//
// The function is a Kubeless PHP function, unchanged: a file defining
// `function foo($event, $context)`, called with the event and context Kubeless gave.

declare(strict_types=1);

namespace Kubeless;

const EVENT_FIELDS = ['event-id', 'event-type', 'event-time', 'event-namespace'];
const JSON_DEPTH = 512;

/** The function could not be loaded; the message is for a person (file, line, fix). */
final class LoadError extends \Exception {}

/** The request cannot become an event (answered 400). */
final class BadRequest extends \Exception {}

/** The body of a request, as PSR-7's getBody() gives it (getContents, __toString). */
final class Body
{
    public function __construct(private string $contents) {}
    public function getContents(): string { return $this->contents; }
    public function getSize(): int { return strlen($this->contents); }
    public function __toString(): string { return $this->contents; }
}

/** The URI of a request: getPath(), getQuery() as PSR-7 has them. */
final class Uri
{
    public function __construct(private string $scheme, private string $host, private string $path,
                                private string $query) {}
    public function getScheme(): string { return $this->scheme; }
    public function getHost(): string { return $this->host; }
    public function getPath(): string { return $this->path; }
    public function getQuery(): string { return $this->query; }
    public function __toString(): string
    {
        return "{$this->scheme}://{$this->host}{$this->path}" . ($this->query === '' ? '' : "?{$this->query}");
    }
}

/**
 * The request in $event['extensions']['request']: the read side of a PSR-7 request (what
 * Kubeless's Slim request offered a function): method, URI, headers, query, body.
 */
final class Request
{
    /** @param array<string, string[]> $headers lowercase names */
    public function __construct(private string $method, private Uri $uri, private array $headers,
                                private Body $body, private array $server) {}
    public function getMethod(): string { return $this->method; }
    public function getUri(): Uri { return $this->uri; }
    public function getRequestTarget(): string
    {
        $query = $this->uri->getQuery();
        return $this->uri->getPath() . ($query === '' ? '' : "?$query");
    }
    /** @return array<string, string[]> */
    public function getHeaders(): array { return $this->headers; }
    public function hasHeader(string $name): bool { return isset($this->headers[strtolower($name)]); }
    /** @return string[] */
    public function getHeader(string $name): array { return $this->headers[strtolower($name)] ?? []; }
    public function getHeaderLine(string $name): string { return implode(',', $this->getHeader($name)); }
    public function getBody(): Body { return $this->body; }
    public function getQueryParams(): array
    {
        parse_str($this->uri->getQuery(), $params);
        return $params;
    }
    public function getServerParams(): array { return $this->server; }
}

function read_exactly($io, int $size): ?string
{
    $data = '';
    while (strlen($data) < $size) {
        $chunk = fread($io, $size - strlen($data));
        if ($chunk === false || $chunk === '') {
            return null;
        }
        $data .= $chunk;
    }
    return $data;
}

/** @return array{0: array, 1: string}|null */
function read_frame($io): ?array
{
    $prefix = read_exactly($io, 8);
    if ($prefix === null) {
        return null;
    }
    ['head' => $head, 'size' => $size] = unpack('Nhead/Nsize', $prefix);
    $header = json_decode((string) read_exactly($io, $head), true, JSON_DEPTH, JSON_THROW_ON_ERROR);
    $body = $size === 0 ? '' : read_exactly($io, $size);
    if (!is_array($header) || $body === null) {
        return null;
    }
    return [$header, $body];
}

function write_frame($io, array $header, string $body = ''): void
{
    $head = json_encode($header, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE);
    $data = pack('NN', strlen($head), strlen($body)) . $head . $body;
    while ($data !== '') {
        $written = fwrite($io, $data);
        if ($written === false || $written === 0) {
            throw new \RuntimeException('the server closed the socket');
        }
        $data = substr($data, $written);
    }
}

/** The function's file, checked, with Composer's autoloader loaded when the bundle has one. */
function function_file(string $dir, string $module): string
{
    $path = "$dir/$module.php";
    if (!is_file($path)) {
        $files = array_values(array_diff(scandir($dir) ?: [], ['.', '..']));
        throw new LoadError("$path does not exist: MOD_NAME=\"$module\" names no file in $dir (it holds: "
            . (implode(', ', array_slice($files, 0, 20)) ?: 'nothing') . '). Deploy with --handler '
            . 'FILE.FUNCTION where FILE.php is the function file.');
    }
    if (is_file("$dir/vendor/autoload.php")) {
        require_once "$dir/vendor/autoload.php";
    }
    return $path;
}

/** The paragraph for the termination log when loading the file threw $e. */
function load_error(\Throwable $e, string $path): string
{
    if ($e instanceof LoadError) {
        return $e->getMessage();
    }
    if ($e instanceof \ParseError) {
        return "{$e->getFile()}:{$e->getLine()}: PHP Parse error: {$e->getMessage()}. Fix that line "
            . '(check the file with `php -l ' . basename($path) . '`).';
    }
    return "Loading $path failed at {$e->getFile()}:{$e->getLine()}: " . get_class($e)
        . ": {$e->getMessage()}. Fix the code that runs when the file is loaded (outside the "
        . 'function), or install the package it needs with --dependencies composer.json.';
}

function check_handler(string $path, string $module, string $handler): void
{
    if (function_exists($handler)) {
        return;
    }
    $mine = array_filter(get_defined_functions()['user'],
        static fn (string $name): bool => (new \ReflectionFunction($name))->getFileName() === realpath($path));
    throw new LoadError("$path defines no function \"$handler\" (FUNC_HANDLER); it defines: "
        . (implode(', ', $mine) ?: 'none') . ". Deploy with --handler $module.FUNCTION, or add "
        . "function $handler(\$event, \$context).");
}

function is_json(string $contentType): bool
{
    return strtolower(trim(explode(';', $contentType, 2)[0])) === 'application/json';
}

function parse_data(string $contentType, string $body): mixed
{
    if (!is_json($contentType)) {
        return $body;
    }
    if (trim($body) === '') {
        return null;
    }
    try {
        return json_decode($body, false, JSON_DEPTH, JSON_THROW_ON_ERROR);
    } catch (\JsonException $e) {
        throw new BadRequest("Malformed JSON body ({$e->getMessage()}); the request says Content-Type: "
            . "$contentType, so the body must be valid JSON.");
    }
}

function build_event(array $call, string $body): array
{
    $headers = [];
    foreach ($call['headers'] ?? [] as [$name, $value]) {
        $headers[strtolower($name)][] = $value;
    }
    $uri = new Uri($call['scheme'] ?? 'http', ($headers['host'][0] ?? $call['server_name'] ?? ''),
        $call['path'] ?? '/', $call['query'] ?? '');
    $server = ['REQUEST_METHOD' => $call['method'], 'REMOTE_ADDR' => $call['remote_addr'] ?? '',
        'REMOTE_PORT' => $call['remote_port'] ?? 0, 'SERVER_PROTOCOL' => 'HTTP/' . ($call['version'] ?? '1.1')];
    $request = new Request($call['method'], $uri, $headers, new Body($body), $server);
    $event = ['data' => parse_data($request->getHeaderLine('content-type'), $body)];
    foreach (EVENT_FIELDS as $field) {
        $event[$field] = $call['event'][$field] ?? null;
    }
    $event['extensions'] = ['request' => $request];
    return $event;
}

/** @return array{0: array, 1: string} the reply frame of what the function returned */
function reply(mixed $result): array
{
    if (is_string($result)) {
        return [['type' => 'reply', 'status' => 200, 'headers' => [['Content-Type', 'text/html; charset=UTF-8']]], $result];
    }
    if ($result === null) {
        return [['type' => 'reply', 'status' => 200, 'headers' => [['Content-Type', 'text/html; charset=UTF-8']]], ''];
    }
    if (is_resource($result) || $result instanceof \Closure) {
        throw new \TypeError('the function returned a ' . get_debug_type($result) . ', which has no HTTP form; '
            . 'return a string, an array, an object, a number, a bool or null');
    }
    $json = json_encode($result, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE
        | JSON_PRESERVE_ZERO_FRACTION);
    return [['type' => 'reply', 'status' => 200, 'headers' => [['Content-Type', 'application/json']]], $json];
}

/** @return array{0: array, 1: string} */
function answer(string $function, array $context, array $call, string $body): array
{
    try {
        $event = build_event($call, $body);
    } catch (BadRequest $e) {
        return [['type' => 'bad-request', 'message' => $e->getMessage()], ''];
    }
    try {
        return reply($function($event, $context));
    } catch (\Throwable $e) {
        $message = get_class($e) . ': ' . $e->getMessage();
        $trace = "$message in {$e->getFile()}:{$e->getLine()}\n{$e->getTraceAsString()}";
        return [['type' => 'error', 'message' => $message, 'traceback' => $trace], ''];
    }
}

/** The socket to the server and the load frame; exits when started by anything else. */
function open(): array
{
    $fd = getenv('KUBELESS_WORKER_FD');
    if ($fd === false || !ctype_digit($fd)) {
        fwrite(STDERR, "worker.php is started by the runtime server (KUBELESS_WORKER_COMMAND), which sets KUBELESS_WORKER_FD.\n");
        exit(2);
    }
    ini_set('display_errors', 'stderr');
    ini_set('log_errors', '0'); // displayed once, on stderr
    ini_set('memory_limit', '-1'); // the container's limit applies (FUNC_MEMORY_LIMIT)
    $io = fopen("php://fd/$fd", 'r+b');
    $frame = $io === false ? null : read_frame($io);
    if ($frame === null || ($frame[0]['type'] ?? '') !== 'load') {
        exit(2);
    }
    return [$io, $frame[0]];
}

function serve($io, array $load): int
{
    try {
        check_handler("{$load['function_dir']}/{$load['module']}.php", (string) $load['module'], (string) $load['handler']);
    } catch (LoadError $e) {
        write_frame($io, ['type' => 'load-error', 'message' => $e->getMessage()]);
        return 1;
    }
    $function = (string) $load['handler'];
    $context = $load['context'] ?? [];
    try {
        write_frame($io, ['type' => 'ready', 'pid' => getmypid()]);
        while (($frame = read_frame($io)) !== null) {
            [$header, $body] = $frame;
            if (($header['type'] ?? '') === 'stop') {
                return 0;
            }
            [$reply, $out] = answer($function, $context, $header, $body);
            write_frame($io, $reply, $out);
        }
    } catch (\RuntimeException $e) {
        // the server went away
    }
    return 0;
}

// The function's file is required here, at the top level, so that its variables are globals
// as in a plain PHP script (a function may use `global $client;`).
if (realpath($_SERVER['SCRIPT_FILENAME'] ?? '') === __FILE__) {
    [$__kubeless_io, $__kubeless_load] = open();
    try {
        $__kubeless_path = function_file((string) $__kubeless_load['function_dir'], (string) $__kubeless_load['module']);
        require_once $__kubeless_path;
    } catch (\Throwable $__kubeless_error) {
        write_frame($__kubeless_io, ['type' => 'load-error', 'message' => load_error($__kubeless_error,
            "{$__kubeless_load['function_dir']}/{$__kubeless_load['module']}.php")]);
        exit(1);
    }
    exit(serve($__kubeless_io, $__kubeless_load));
}
