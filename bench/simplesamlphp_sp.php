<?php
// The SP entries of a SAML metadata file as SimpleSAMLphp's own parser reads them
// (saml20-sp-remote.php), with the options given as a JSON object on top: the benchmark's
// ENT registered from its metadata. Usage: php simplesamlphp_sp.php METADATA.xml OPTIONS.json
require '/usr/share/simplesamlphp/lib/_autoload.php';

$options = json_decode($argv[2], true, 512, JSON_THROW_ON_ERROR);
$entries = [];
foreach (\SimpleSAML\Metadata\SAMLParser::parseDescriptorsFile($argv[1]) as $entityId => $entity) {
    $sp = $entity->getMetadata20SP();
    if ($sp !== null) {
        unset($sp['entityDescriptor']);
        $entries[$entityId] = array_merge($sp, $options);
    }
}
if (count($entries) !== 1) {
    fwrite(STDERR, 'one SP expected in ' . $argv[1] . ', found ' . count($entries) . "\n");
    exit(1);
}
echo "<?php\n";
foreach ($entries as $entityId => $sp) {
    echo '$metadata[' . var_export($entityId, true) . '] = ' . var_export($sp, true) . ";\n";
}
