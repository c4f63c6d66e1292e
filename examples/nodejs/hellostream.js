'use strict';

// The shape of Kubeless's hellostream example, with Node's own stream helpers instead of the
// from2 and end-of-stream packages: pipe a stream into the live response and resolve the
// promise when the stream has ended.
const { Readable, finished } = require('stream');

module.exports = {
  foo: (event, context) => new Promise((resolve, reject) => {
    const { response } = event.extensions;
    const stream = Readable.from(['hello ', 'world!']);
    finished(stream, (err) => (err ? reject(err) : resolve(stream)));
    response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    stream.pipe(response);
  }),
};
