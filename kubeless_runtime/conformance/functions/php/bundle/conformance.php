<?php
// The conformance suite's function for PHP runtimes (Kubeless style: function
// handler($event, $context)); PROTOCOL.md (two folders up) says what each request must answer.
// Plain PHP: the `deps` command uses the one package the installation phase installs, from the
// `path` repository lib/conformance-dep shipped in this bundle (conformance.zip, see
// make-bundle.sh).

const GREETING = 'kubeless-conformance: hello from the function';
const MARKER_DIR = '/tmp';

function conformance_type($value): string
{
    if ($value instanceof stdClass) {
        return 'object';
    }
    if (is_array($value)) {
        return 'array';
    }
    if (is_string($value)) {
        return preg_match('//u', $value) ? 'string' : 'bytes';
    }
    if (is_bool($value)) {
        return 'boolean';
    }
    if (is_int($value) || is_float($value)) {
        return 'number';
    }
    return $value === null ? 'null' : get_debug_type($value);
}

function conformance_mark(string $token, string $stage): void
{
    echo "kubeless-conformance $stage $token\n";
    flush();
    @file_put_contents(MARKER_DIR . "/kubeless-conformance-$token.$stage", $stage);
}

function conformance_command(stdClass $data, array $event, array $context)
{
    switch ($data->conformance) {
        case 'where':
            return ['file' => __FILE__, 'module' => 'conformance',
                'install_volume' => (string) getenv('KUBELESS_INSTALL_VOLUME')];
        case 'event':
            $fields = [];
            foreach (['event-id', 'event-type', 'event-time', 'event-namespace'] as $name) {
                $fields[$name] = $event[$name];
            }
            return ['event' => $fields, 'type' => conformance_type($data)];
        case 'context':
            $fields = [];
            foreach (['function-name', 'timeout', 'runtime', 'memory-limit'] as $name) {
                $fields[$name] = $context[$name] ?? null;
            }
            return ['context' => $fields];
        case 'raise':
            throw new RuntimeException('kubeless-conformance: a deliberate exception (the 500 case)');
        case 'sleep':
            $seconds = (float) ($data->seconds ?? 1);
            usleep((int) ($seconds * 1e6));
            return ['slept' => $seconds];
        case 'late':
            $token = (string) ($data->token ?? '');
            if (!preg_match('/^[0-9a-f]{6,64}$/', $token)) {
                throw new InvalidArgumentException('token must be 6-64 lowercase hex digits');
            }
            conformance_mark($token, 'start');
            usleep((int) ((float) ($data->seconds ?? 5) * 1e6));
            conformance_mark($token, 'done');
            return 'kubeless-conformance: finished after the deadline';
        case 'deps':
            $class = new ReflectionClass(\Kubeless\ConformanceDep\Dep::class);
            return ['name' => 'kubeless/conformance-dep', 'version' => \Kubeless\ConformanceDep\Dep::VERSION,
                'file' => $class->getFileName()];
    }
    throw new InvalidArgumentException('unknown conformance command ' . json_encode($data->conformance));
}

function handler($event, $context)
{
    $data = $event['data'];
    if ($data instanceof stdClass && property_exists($data, 'conformance')) {
        return conformance_command($data, $event, $context);
    }
    if ($data === null || $data === '' || $data === [] || $data == new stdClass()) {
        return GREETING;
    }
    if (is_string($data)) {
        return $data;
    }
    return ['echo' => $data, 'type' => conformance_type($data)];
}
