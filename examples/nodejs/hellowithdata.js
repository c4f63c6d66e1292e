'use strict';

module.exports = {
  handler: (event, context) => {
    console.log(event.data);
    return event.data;
  },
};
