<?php
// Drives PHP's SoapClient, built from a WSDL as any PHP client would build it,
// through the whole srv.asmx workflow.
//
// Usage: php workflow.php <wsdl> <1.1|1.2> <url> <user> <password> <document path>
//                         <chunk size> <file to upload> <file to write the download to>
// The WSDL's own address is replaced by <url> (the vendor's points at its server).

error_reporting(E_ALL);
set_error_handler(function ($severity, $message) { throw new ErrorException($message); });

[$script, $wsdl, $version, $url, $user, $password, $path, $chunkSize, $source, $target] = $argv;
$client = new SoapClient($wsdl, [
    'soap_version' => $version === '1.2' ? SOAP_1_2 : SOAP_1_1,
    'location' => $url,
    'cache_wsdl' => WSDL_CACHE_NONE,
    'exceptions' => true,
    'trace' => true,
]);

function crc(string $data): string
{
    return sprintf('%X', crc32($data));
}

// The result is an XmlNode (mixed content, any element): PHP hands it over as
// the XML text of its content, one element. Read without ext/xml (Debian's
// php-xml), which the SOAP extension does not need.
function answer($result, string $step): array
{
    $property = array_keys(get_object_vars($result))[0];
    $xml = $result->$property->any;
    if (!preg_match('/^\s*<(\w+)((?:\s+[\w:]+="[^"]*")*)\s*(?:\/>|>([^<]*)<\/\1>)\s*$/', $xml, $node)) {
        throw new Exception("$step: not one element: $xml");
    }
    preg_match_all('/([\w:]+)="([^"]*)"/', $node[2], $pairs, PREG_SET_ORDER);
    $answer = ['#text' => html_entity_decode($node[3] ?? '', ENT_XML1 | ENT_QUOTES, 'UTF-8')];
    foreach ($pairs as [, $name, $value]) {
        $answer[$name] = html_entity_decode($value, ENT_XML1 | ENT_QUOTES, 'UTF-8');
    }
    if (($answer['success'] ?? '') !== 'true') {
        throw new Exception("$step failed: $xml");
    }
    return $answer;
}

$data = file_get_contents($source);
$login = answer($client->AuthenticateUser(['UID' => $user, 'PWD' => $password]), 'AuthenticateUser');
$ticket = $login['ticket'];
if ($login['username'] !== $user) {
    throw new Exception('logged in as ' . $login['username']);
}

$created = answer($client->CreateUploadHandler(
    ['AuthenticationTicket' => $ticket, 'PreferedChunkSize' => (int) $chunkSize]), 'CreateUploadHandler');
$handler = $created['UploadHandler'];
$size = min((int) $created['ChunkSize'], (int) $chunkSize);
$offset = 0;
do {
    $chunk = substr($data, $offset, $size);
    $last = $offset + strlen($chunk) === strlen($data);
    $sent = answer($client->UploadFileChunk([
        'AuthenticationTicket' => $ticket, 'UploadHandler' => $handler, 'FileChunk' => $chunk,
        'ChunkHEXCRC' => crc($chunk), 'LastChunk' => $last]), 'UploadFileChunk');
    $offset += strlen($chunk);
    if ($sent['offset'] !== (string) $offset) {
        throw new Exception('UploadFileChunk: ' . json_encode($sent));
    }
} while ($offset < strlen($data));

answer($client->UploadDocumentWithHandler(
    ['AuthenticationTicket' => $ticket, 'Path' => $path, 'UploadHandler' => $handler]),
    'UploadDocumentWithHandler');

$opened = answer($client->GetDownloadHandler(
    ['AuthenticationTicket' => $ticket, 'Path' => $path, 'PreferedChunkSize' => (int) $chunkSize]),
    'GetDownloadHandler');
$download = $opened['downloadhandler'];
$received = '';
while (true) {
    $chunk = answer($client->DownloadFileChunk([
        'AuthenticationTicket' => $ticket, 'DownloadHandler' => $download,
        'StartOffset' => strlen($received), 'ChunkSize' => 0]), 'DownloadFileChunk');
    $piece = base64_decode($chunk['#text'], true);
    if ($chunk['chunkCRC32'] !== crc($piece)) {
        throw new Exception('DownloadFileChunk: CRC ' . $chunk['chunkCRC32']);
    }
    $received .= $piece;
    if ($chunk['lastchunk'] === 'true') {
        break;
    }
}
answer($client->DeleteDownloadHandler(
    ['AuthenticationTicket' => $ticket, 'DownloadHandler' => $download]), 'DeleteDownloadHandler');
answer($client->LogOut(['AuthenticationTicket' => $ticket]), 'LogOut');
file_put_contents($target, $received);
echo "OK SOAP $version\n";
