// @tus/server with @tus/file-store: the peer that benchmarks/tus.py starts.
//   node server.mjs <port> <directory>
// Uploads are created by POST /files and written by PATCH /files/<id>, each PATCH
// appended to <directory>/<id> (the file store writes to the page cache and never
// fsyncs). Prints "listening" once it accepts connections.
import http from 'node:http'
import { Server } from '@tus/server'
import { FileStore } from '@tus/file-store'

const [port, directory] = process.argv.slice(2)
const tus = new Server({ path: '/files', datastore: new FileStore({ directory }) })
const server = http.createServer((req, res) => tus.handle(req, res))
server.listen(Number(port), '127.0.0.1', () => console.log('listening'))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
