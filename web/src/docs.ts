// The API reference at /docs: the server's own /openapi.json rendered by Swagger UI, bundled
// from the npm registry (nothing from a third-party origin, no inline script or style, the
// web app's CSP). Requests cannot be sent from the page: it documents, it does not act.
import SwaggerUI from 'swagger-ui-dist/swagger-ui-es-bundle.js';
import 'swagger-ui-dist/swagger-ui.css';

SwaggerUI({
  url: '/openapi.json',
  dom_id: '#api-reference',
  deepLinking: true,
  supportedSubmitMethods: [],
  validatorUrl: null,
  tryItOutEnabled: false,
});
