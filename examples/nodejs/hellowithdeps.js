'use strict';

// Dependencies come from package.json (deploy with --dependencies package.json); the
// installation step puts them in $KUBELESS_INSTALL_VOLUME/node_modules.
const _ = require('lodash');

module.exports = {
  handler: (event, context) => {
    const words = _.words(String(event.data || 'hello world'));
    return { words, camel: _.camelCase(words.join(' ')) };
  },
};
