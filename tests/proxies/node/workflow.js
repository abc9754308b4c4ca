// Drives node-soap, built from a WSDL as any Node client would build it,
// through the whole srv.asmx workflow; or prints the signatures it derives.
//
// Usage: node workflow.js describe <wsdl>
//        node workflow.js run <wsdl> <srvSoap|srvSoap12> <url> <user> <password>
//                         <document path> <chunk size> <file to upload> <download file>
'use strict';
const fs = require('fs');
const soap = require('soap');

// CRC-32 (IEEE), computed here: zlib.crc32 needs Node 20.15, Debian ships 18.
const TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc(data) {
  let c = 0xFFFFFFFF;
  for (const byte of data) c = TABLE[(c ^ byte) & 0xFF] ^ (c >>> 8);
  return ((c ^ 0xFFFFFFFF) >>> 0).toString(16).toUpperCase();
}

// The result is an XmlNode (mixed content, any element): node-soap parses the
// answer element into its attributes (and its text as `$value`).
function answer(result, step) {
  const wrapper = result[0][Object.keys(result[0])[0]];
  const node = wrapper[Object.keys(wrapper).find(key => key !== 'attributes')] || wrapper;
  const values = Object.assign({ text: node.$value || '' }, node.attributes || {});
  if (values.success !== 'true') {
    throw new Error(`${step} failed: ${JSON.stringify(result[0])}`);
  }
  return values;
}

async function run([wsdl, port, url, user, password, path, chunkSize, source, target]) {
  const client = await soap.createClientAsync(wsdl, {
    endpoint: url, forceSoap12Headers: port === 'srvSoap12',
  });
  const service = client.srv[port];
  const call = (method, args) => new Promise((resolve, reject) => {
    service[method](args, (error, ...result) => (error ? reject(error) : resolve(result)));
  });
  const data = fs.readFileSync(source);
  const login = answer(await call('AuthenticateUser', { UID: user, PWD: password }),
    'AuthenticateUser');
  if (login.username !== user) throw new Error(`logged in as ${login.username}`);
  const ticket = login.ticket;
  const created = answer(await call('CreateUploadHandler',
    { AuthenticationTicket: ticket, PreferedChunkSize: Number(chunkSize) }), 'CreateUploadHandler');
  const size = Math.min(Number(created.ChunkSize), Number(chunkSize));
  let offset = 0;
  do {
    const chunk = data.subarray(offset, offset + size);
    const sent = answer(await call('UploadFileChunk', {
      AuthenticationTicket: ticket, UploadHandler: created.UploadHandler,
      FileChunk: chunk.toString('base64'), ChunkHEXCRC: crc(chunk),
      LastChunk: offset + chunk.length === data.length,
    }), 'UploadFileChunk');
    offset += chunk.length;
    if (sent.offset !== String(offset)) throw new Error(`UploadFileChunk: ${JSON.stringify(sent)}`);
  } while (offset < data.length);
  answer(await call('UploadDocumentWithHandler',
    { AuthenticationTicket: ticket, Path: path, UploadHandler: created.UploadHandler }),
  'UploadDocumentWithHandler');
  const opened = answer(await call('GetDownloadHandler',
    { AuthenticationTicket: ticket, Path: path, PreferedChunkSize: Number(chunkSize) }),
  'GetDownloadHandler');
  const pieces = [];
  let received = 0;
  for (;;) {
    const chunk = answer(await call('DownloadFileChunk', {
      AuthenticationTicket: ticket, DownloadHandler: opened.downloadhandler,
      StartOffset: received, ChunkSize: 0,
    }), 'DownloadFileChunk');
    const piece = Buffer.from(chunk.text, 'base64');
    if (chunk.chunkCRC32 !== crc(piece)) throw new Error(`CRC ${chunk.chunkCRC32}`);
    pieces.push(piece);
    received += piece.length;
    if (chunk.lastchunk === 'true') break;
  }
  answer(await call('DeleteDownloadHandler',
    { AuthenticationTicket: ticket, DownloadHandler: opened.downloadhandler }),
  'DeleteDownloadHandler');
  answer(await call('LogOut', { AuthenticationTicket: ticket }), 'LogOut');
  fs.writeFileSync(target, Buffer.concat(pieces));
  console.log(`OK ${port}`);
}

async function describe([wsdl]) {
  const client = await soap.createClientAsync(wsdl, {});
  console.log(JSON.stringify(client.describe()));
}

const [mode, ...args] = process.argv.slice(2);
(mode === 'describe' ? describe(args) : run(args)).catch(error => {
  console.error(error.stack || error);
  process.exit(1);
});
